"""The pages follow the same access rule as the API (issue 12): a supervisor limited to the
North sees and opens only its carteras; an agent never a colleague's own cartera."""

from service.domain.actor import system_actor
from service.domain.users import find_user, set_access
from service.extensions import db


def limit(app, email, cartera_ids, all_carteras=False):
    with app.app_context():
        user = find_user(db.session(), email)
        set_access(
            db.session(),
            system_actor("tests"),
            user.id,
            all_carteras=all_carteras,
            cartera_ids=cartera_ids,
        )
        db.session.commit()


def test_a_northern_supervisor_sees_and_opens_only_the_north(app, make, login):
    ids = make.org_chart()
    browser = login("coordinator", email="norte@example.com")
    limit(app, "norte@example.com", [ids["premium"], ids["compartida"]])
    page = browser.get("/carteras").get_data(as_text=True)
    assert "Premium" in page and "Compartida" in page and "Sur VIP" not in page
    assert browser.get(f"/carteras/{ids['sur_vip']}/contactos").status_code == 404
    assert browser.get(f"/carteras/{ids['sur_vip']}/editar").status_code == 404
    assert browser.get(f"/contactos/{ids['caro']}").status_code == 404
    contacts = browser.get("/contactos").get_data(as_text=True)
    assert "Ana" in contacts and "Dani" in contacts and "Caro" not in contacts
    assert "Caro" not in browser.get("/contactos/exportar").get_data(as_text=True)
    assert browser.get("/carteras/nueva").status_code == 403
    audit = browser.get("/auditoria").get_data(as_text=True)
    assert "Premium" in audit and "Sur VIP" not in audit


def test_an_agent_page_never_shows_a_colleagues_own_cartera(app, make, login):
    ids = make.org_chart()
    browser = login("agent", agent_id=ids["marta"], email="marta@example.com")
    contacts = browser.get("/contactos").get_data(as_text=True)
    assert "Beto" in contacts and "Dani" in contacts and "Ana" not in contacts
    assert browser.get(f"/contactos/{ids['ana']}").status_code == 404
    limit(app, "marta@example.com", [ids["premium"]])  # granted: at once
    assert browser.get(f"/contactos/{ids['ana']}").status_code == 200
