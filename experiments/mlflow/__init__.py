"""The MLflow protocol adapter: URLs, request parsing, wire format and error codes.

Everything MLflow-shaped stays in this package; it calls the same services and selectors as the
portal's pages and its own API.
"""
