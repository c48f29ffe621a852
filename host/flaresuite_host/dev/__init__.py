"""``flaresuite dev``: a Worker of wrangler.toml served locally on the Pyodide lane."""
