"""Jinja2 templates of every HTML page the index builder writes.

Kept as Python strings (wrangler bundles Python modules, not package data) and rendered with
autoescaping on, so every value is HTML-escaped. A project page's anchors arrive already
rendered and escaped (:func:`flaresuite.index.rows.html_row`) as ``Markup``: the engine lays out
the page, not each of its ten thousand rows.
"""

from __future__ import annotations

import jinja2

PROJECT_LIST = """\
<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Simple index</title>
  </head>
  <body>
{% for project in projects %}
    <a href="{{ project }}/">{{ project }}</a><br/>
{% endfor %}
  </body>
</html>
"""
"""PEP 503 root page: one anchor per project, linking to its normalised name."""

PROJECT_PAGE = """\
<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for {{ project }}</title>
  </head>
  <body>
    <h1>Links for {{ project }}</h1>
{{ rows }}  </body>
</html>
"""
"""PEP 503 project page around its rows, one anchor per line."""

LIBTORCH_LISTING = """\
{% for entry in entries %}
<a href="{{ entry.url }}">{{ entry.text }}</a><br/>
{% endfor %}
"""
"""The libtorch directory listing: plain anchors, as download.pytorch.org serves them."""

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.DictLoader(
        {
            "project_list.html": PROJECT_LIST,
            "project_page.html": PROJECT_PAGE,
            "libtorch_listing.html": LIBTORCH_LISTING,
        }
    ),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
