"""The release tool: bundle a Worker, fingerprint it, upload it to R2, publish its metadata.

It follows the Tekton pipeline ``build-and-upload-cloudflare-worker`` of our design notes
(``deploy/tekton/``): each stage is a ``flaresuite release`` sub-command, so the pipeline and a
developer's terminal run the same code. The steps run on a build host, never inside a Worker.
"""
