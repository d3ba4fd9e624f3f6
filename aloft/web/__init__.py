"""The web UI for people: server-rendered pages (views here, ``templates/``, ``static/`` served at ``/assets``).

Views call the services the API calls (``aloft.api.*`` functions, ``aloft.people``, ``aloft.stats``),
scoped to the signed-in person's organization (:mod:`aloft.web.viewer`); templates show what they
are given. The sign-in family of pages is :mod:`aloft.web.account` (the people issue's).
"""
