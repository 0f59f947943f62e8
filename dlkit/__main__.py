from dlkit.cli import entry

entry()
