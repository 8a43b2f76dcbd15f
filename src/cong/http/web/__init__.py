"""The web app: HTML pages (one shell per page, drawn by the modules in ``static/js``) and
the static assets they need, all served by the gateway itself (works offline)."""
