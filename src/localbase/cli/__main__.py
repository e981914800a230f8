from localbase.cli.main import app

app(prog_name="localbase")
