"""Route templates, constraints and precedence, checked without a server."""

import pytest

from devhost.routing import Route, RouteTable, RouteTemplateError, parse_template, split_path

pytestmark = pytest.mark.offline


def match(template: str, path: str) -> dict[str, str] | None:
    return parse_template(template).match(split_path(path))


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/users/{id}", "/api/users/7", {"id": "7"}),
        ("api/users/{id}", "/API/Users/7", {"id": "7"}),
        ("api/users/{id}", "/api/users", None),
        ("api/users/{id}", "/api/users/7/extra", None),
        ("api/users/{id?}", "/api/users", {}),
        ("api/users/{id=me}", "/api/users", {"id": "me"}),
        ("api/{*rest}", "/api", {}),
        ("api/{**rest}", "/api/a/b", {"rest": "a/b"}),
        ("api/files/{name}.{ext}", "/api/files/a.b.txt", {"name": "a.b", "ext": "txt"}),
        ("api/files/{name}.{ext}", "/api/files/readme", None),
        ("api/q/{id}", "/api/q/a%2Fb", {"id": "a%2Fb"}),  # an encoded slash never splits
        ("", "/", {}),
    ],
)
def test_templates_bind_route_values(template, path, expected):
    assert match(template, path) == expected


@pytest.mark.parametrize(
    ("constraint", "accepted", "rejected"),
    [
        ("int", ["0", "-5", "2147483647"], ["x", "1.5", "2147483648"]),
        ("long", ["9223372036854775807"], ["9223372036854775808"]),
        ("bool", ["true", "False"], ["yes"]),
        ("alpha", ["abc", "XyZ"], ["ab1", "é"]),
        ("guid", ["1b4e28ba-2fa1-11d2-883f-0016d3cca427"], ["1b4e28ba"]),
        ("double", ["1.5", "-2e3"], ["1.5.2"]),
        ("min(10)", ["10", "11"], ["9"]),
        ("max(10)", ["10"], ["11"]),
        ("range(1,3)", ["1", "3"], ["0", "4"]),
        ("length(2)", ["ab"], ["a", "abc"]),
        ("length(1,2)", ["a", "ab"], ["abc"]),
        ("minlength(2)", ["ab"], ["a"]),
        ("maxlength(2)", ["ab"], ["abc"]),
        (r"regex(^msg_\w+$)", ["msg_1", "MSG_a"], ["app_1"]),
        ("int:min(1)", ["1"], ["0", "a"]),
    ],
)
def test_constraints(constraint, accepted, rejected):
    template = f"items/{{id:{constraint}}}"
    for value in accepted:
        assert match(template, f"/items/{value}") == {"id": value}, value
    for value in rejected:
        assert match(template, f"/items/{value}") is None, value


def test_unknown_constraints_are_reported_and_ignored():
    template = parse_template("items/{id:shiny}")

    assert template.unknown_constraints == ("shiny",)
    assert template.match(["items", "anything"]) == {"id": "anything"}


@pytest.mark.parametrize(
    "template",
    [
        "a/{*rest}/b",
        "a/{id?}/b",
        "a/{id",
        "a/id}",
        "a/{x}/{x}",
        "a//b",
        "a/{x}{y}",
        "a/{id:range(1)}",
    ],
)
def test_invalid_templates_are_rejected(template):
    with pytest.raises(RouteTemplateError):
        parse_template(template)


def table(*templates: str, methods: frozenset[str] | None = None) -> RouteTable[str]:
    return RouteTable(Route(parse_template(t), methods, t) for t in templates)


@pytest.mark.parametrize(
    ("path", "winner"),
    [
        ("/app/1/msg", "app/{id}/msg"),
        ("/app/1/other", "app/{id}/{kind}"),
        ("/app/1/x/y", "app/{*rest}"),
        ("/app/42", "app/{id:int}"),
        ("/app/abc", "app/{id}"),
        ("/app/new", "app/new"),
    ],
)
def test_most_specific_template_wins_whatever_the_order(path, winner):
    templates = ["app/{*rest}", "app/{id}/{kind}", "app/{id}", "app/{id:int}", "app/new", "app/{id}/msg"]
    for ordering in (templates, templates[::-1]):
        resolved = table(*ordering).resolve("GET", split_path(path))
        assert resolved.route is not None and resolved.route.target == winner


def test_method_mismatch_reports_allowed_methods_and_falls_through():
    routes = RouteTable(
        [
            Route(parse_template("a/{id:int}"), frozenset({"DELETE"}), "delete"),
            Route(parse_template("a/{id}"), frozenset({"GET"}), "get"),
        ]
    )

    assert routes.resolve("GET", ["a", "1"]).route.target == "get"  # type: ignore[union-attr]
    refused = routes.resolve("POST", ["a", "1"])
    assert refused.route is None
    assert refused.allowed_methods == {"DELETE", "GET"}
    assert routes.resolve("GET", ["b"]).allowed_methods == frozenset()
