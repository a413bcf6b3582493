"""The web console at /console: server-rendered pages (Jinja2) with htmx, served by the API's own process over
its services. See README.md in this directory for the choices and the layout."""
