"""/metrics labels come from fixed sets: random paths and methods cannot grow the series."""

import random
import string

from prometheus_client.parser import text_string_to_metric_families

from service.api.metrics import METHODS


def series(client):
    text = client.get("/metrics").get_data(as_text=True)
    found = set()
    for family in text_string_to_metric_families(text):
        if family.name.startswith("carteras_http"):
            for sample in family.samples:
                found.add((sample.name, tuple(sorted(sample.labels.items()))))
    return found


def test_random_paths_and_methods_do_not_grow_the_label_set(app, client):
    rng = random.Random(11)
    token = string.ascii_letters + string.digits + "-_.~%"
    methods = ["GET", "POST", "DELETE", "PROPFIND", "FOO", "get", "X-" + "A" * 40]

    def burst(count):
        for _ in range(count):
            path = "/" + "/".join(
                "".join(rng.choices(token, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 4))
            )
            method = rng.choice(methods) if rng.random() < 0.5 else rng.choice(token).upper() * 3
            client.open(path, method=method)

    burst(20)
    series(client)  # the scrape itself is a request: counted from the next one
    before = series(client)
    burst(200)
    after = series(client)
    assert after == before, sorted(after - before)[:5]

    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for _, labels in after:
        values = dict(labels)
        if "method" in values:
            assert values["method"] in METHODS | {"other"}
        if "route" in values:
            assert values["route"] in rules | {"unmatched"}
