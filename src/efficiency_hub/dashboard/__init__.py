"""The hub's live Streamlit dashboard: `streamlit run` this package's app.py (or `efficiency-hub up`).

Importing this package does not import Streamlit: the CLI only needs `APP`, the script's path."""

from pathlib import Path

APP = Path(__file__).with_name("app.py")
