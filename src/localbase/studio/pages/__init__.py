"""Studio's pages, one module each; every module exposes `routes()`."""

from localbase.studio.pages import apidocs, auth, home, logs, policies, realtime, sql, storage, tables

PAGES = [home, tables, sql, policies, auth, realtime, storage, logs, apidocs]
