"""Feedback and sessions (issue 13, item 7): a session that ended sends the person to sign in
saying so and back to the page; a form sent from an ended session says it expired and goes
back to its page without changing anything."""

import sqlalchemy as sa

from service.domain.actor import system_actor
from service.domain.users import set_password
from service.extensions import db
from service.models import Cartera, User
from tests.ui.conftest import PASSWORD, Browser, csrf


def sign_in(app, email, next_path=None):
    browser = Browser(app.test_client())
    path = "/ingresar" + (f"?next={next_path}" if next_path else "")
    page = browser.get(path).get_data(as_text=True)
    response = browser.client.post(
        path, data={"csrf_token": csrf(page), "email": email, "password": PASSWORD}
    )
    return browser, response


def end_sessions(app, email):
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == email))
        set_password(db.session(), system_actor("t"), user_id, "otra-clave-segura")
        db.session.commit()


def test_an_ended_session_says_so_and_returns_to_the_page(app, make):
    cartera = make.cartera("Premium", make.team())
    make.user("carla@example.com", "coordinator")
    browser, _ = sign_in(app, "carla@example.com")
    page = f"/carteras/{cartera}/contactos?q=ana"
    assert browser.get(page).status_code == 200
    end_sessions(app, "carla@example.com")
    sent = browser.get(page)
    assert sent.status_code == 302 and "/ingresar?next=" in sent.headers["Location"]
    login_page = browser.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Su sesión terminó; ingrese de nuevo para seguir donde estaba." in login_page
    # signing in again lands on the page it was on
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "carla@example.com"))
        set_password(db.session(), system_actor("t"), user_id, PASSWORD)
        db.session.commit()
    response = browser.client.post(
        sent.headers["Location"],
        data={"csrf_token": csrf(login_page), "email": "carla@example.com", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == page


def test_never_signed_in_is_asked_to_sign_in(client):
    sent = client.get("/carteras")
    assert sent.status_code == 302
    assert "Ingrese para continuar." in client.get(sent.headers["Location"]).get_data(as_text=True)


def test_a_form_from_an_ended_session_expired_and_changes_nothing(app, make):
    make.user("carla@example.com", "coordinator")
    cartera = make.cartera("Premium", make.team())
    old, _ = sign_in(app, "carla@example.com")
    form = old.get(f"/carteras/{cartera}/editar").get_data(as_text=True)
    stale = csrf(form)
    # the person signs out elsewhere and in again: a new session, the old form's token is gone
    token = csrf(old.get("/carteras").get_data(as_text=True))
    old.client.post("/salir", data={"csrf_token": token})
    response = old.client.post(
        f"/carteras/{cartera}/editar", data={"csrf_token": stale, "name": "Otro nombre"}
    )
    assert response.status_code == 302  # to sign-in: that session ended
    # a stale form inside a live session: back to the form, saying it expired
    again, _ = sign_in(app, "carla@example.com")
    response = again.client.post(
        f"/carteras/{cartera}/editar",
        data={"csrf_token": stale, "name": "Otro nombre"},
        headers={"Referer": f"http://localhost/carteras/{cartera}/editar"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/carteras/{cartera}/editar")
    shown = again.get(response.headers["Location"]).get_data(as_text=True)
    assert "El formulario caducó, inténtelo de nuevo." in shown
    with app.app_context():
        assert db.session.get(Cartera, cartera).name == "Premium"
    # an action button without any token is still refused outright
    assert again.client.post(f"/carteras/{cartera}/desactivar").status_code == 400
