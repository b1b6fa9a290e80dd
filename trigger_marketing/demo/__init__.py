"""The living demo, called by the demo data (not a model: nothing of it is loaded
in a production registry until the demo data runs)."""
