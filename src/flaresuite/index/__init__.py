"""The PyTorch-style simple index builder.

Reads a listing of distribution files (an S3 bucket, or a directory of wheels), decides which
files each page shows, and writes PEP 503 HTML and PEP 691 JSON pages to destination buckets.
Reference behaviour: PyTorch's ``s3_management/manage.py``; where we deviate, the module that
decides says why.
"""
