"""Every API route × every role: a caller is refused (403) exactly where its role lacks the scope or the action.

The rules are ``aloft.access``'s (roles, their scopes and actions) and each blueprint's
(which scope and action a method needs); this walks all of them, with a key each role's
person minted and with that person's browser session, so a route added without its rule,
or a rule not enforced, fails here.
"""

import uuid

import pytest
from api_support import bearer, operations
from people_support import csrf_token, person, sign_in

from aloft.access import ROLE_ACTIONS, ROLE_GRANTS, ROLE_SCOPES
from aloft.models import ROLES
from aloft.testing import issue_key

SOME_ID = str(uuid.uuid4())


def api_routes(app, client):
    """(method, concrete path, scope, action) of every operation that needs a caller."""
    spec = client.get("/api/v1/openapi.json").json
    adapter = app.url_map.bind("localhost")
    for method, path, parameters, _body in operations(spec):
        concrete = path
        for parameter in parameters:
            if parameter["in"] == "path":
                concrete = concrete.replace("{" + parameter["name"] + "}", SOME_ID)
        endpoint, _ = adapter.match(concrete, method.upper())
        blueprint = app.blueprints[endpoint.split(".")[0]]
        if getattr(blueprint, "scope_family", None) is None:
            continue
        yield (
            method.upper(),
            concrete,
            blueprint.required_scope(method.upper()),
            blueprint.required_action(method.upper()),
        )


def allowed(role, scope, action):
    return (scope is None or scope in ROLE_SCOPES[role]) and (action is None or action in ROLE_ACTIONS[role])


def call(client, method, path, headers):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_refuses_exactly_what_the_role_may_not_do(app, client, org, role):
    user = person(org, role, f"{role}@example.com")
    key_headers = bearer(issue_key(app, org, f"{role}'s key", user=user)[1])
    browser = app.test_client()
    sign_in(browser, f"{role}@example.com")
    session_headers = {"X-CSRFToken": csrf_token(browser)}
    routes = list(api_routes(app, client))
    assert len(routes) > 30
    for method, path, scope, action in routes:
        for caller, headers in ((client, key_headers), (browser, session_headers)):
            response = call(caller, method, path, headers)
            if allowed(role, scope, action):
                assert response.status_code not in (401, 403) and response.status_code < 500, (
                    role,
                    method,
                    path,
                    response.status_code,
                    response.json,
                )
            else:
                assert response.status_code == 403, (role, method, path, response.status_code, response.json)


def test_the_roles_read_write_and_manage_as_documented():
    reads = {scope for scope in ROLE_SCOPES["admin"] if scope.endswith(":read")}
    assert ROLE_SCOPES["viewer"] == reads | {"api-keys:write"} and ROLE_GRANTS["viewer"] == reads
    assert ROLE_SCOPES["member"] == ROLE_SCOPES["admin"] - {"team:write"}
    assert ROLE_ACTIONS["member"] == ROLE_ACTIONS["viewer"] == frozenset()
    assert set(ROLE_SCOPES) == set(ROLE_ACTIONS) == set(ROLES)


def test_a_viewer_mints_read_only_keys_and_nothing_more(app, client, org):
    viewer = person(org, "viewer", "vera@example.com")
    headers = bearer(issue_key(app, org, "vera's", user=viewer)[1])
    minted = client.post("/api/v1/keys", json={"name": "reader"}, headers=headers)
    assert minted.status_code == 201
    assert set(minted.json["key"]["scopes"]) == ROLE_GRANTS["viewer"]
    refused = client.post("/api/v1/keys", json={"name": "writer", "scopes": ["api-keys:write"]}, headers=headers)
    assert refused.status_code == 403
    assert refused.json == {"error": "A viewer can only mint keys with read scopes; not: api-keys:write"}
    assert client.post("/api/v1/monitors", json={}, headers=headers).status_code == 403
