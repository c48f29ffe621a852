"""Jinja2 templates of every HTML page the index builder writes.

Kept as Python strings (wrangler bundles Python modules, not package data) and rendered with
autoescaping on, so every value (file names, ``Requires-Python`` specifiers) is HTML-escaped.
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
{% for file in files %}
    <a href="{{ file.url }}{% if file.sha256 %}#sha256={{ file.sha256 }}{% endif %}"
{%- if file.core_metadata_sha256 %} data-dist-info-metadata="sha256={{ file.core_metadata_sha256 }}" data-core-metadata="sha256={{ file.core_metadata_sha256 }}"{% endif %}
{%- if file.requires_python %} data-requires-python="{{ file.requires_python }}"{% endif %}
{%- if file.upload_time %} data-upload-time="{{ file.upload_time }}"{% endif %}>{{ file.filename }}</a><br/>
{% endfor %}
  </body>
</html>
"""
"""PEP 503 project page. ``data-dist-info-metadata`` (PEP 658) and ``data-core-metadata``
(PEP 714) carry the same digest, because older pip reads only the first; ``data-upload-time``
is what uv's ``exclude-newer`` reads on download.pytorch.org."""

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
