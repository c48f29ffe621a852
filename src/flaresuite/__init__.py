"""flaresuite: Python Cloudflare Workers on one pure-Python core."""
