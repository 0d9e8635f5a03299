"""The page's activate/deactivate buttons write the same audit events as the API."""

import sqlalchemy as sa

from service.extensions import db
from service.models import AuditEvent


def test_the_page_buttons_write_activated_and_deactivated(app, make, login):
    cartera = make.cartera(team_id=make.team())
    browser = login()
    for action in ("desactivar", "activar", "activar"):
        response = browser.submit("/carteras", action=f"/carteras/{cartera}/{action}")
        assert response.status_code == 302
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.event, AuditEvent.before, AuditEvent.after)
            .where(AuditEvent.resource_type == "cartera", AuditEvent.resource_id == cartera)
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [
        ("created", None, events[0][2]),
        ("deactivated", {"active": True}, {"active": False}),
        ("activated", {"active": False}, {"active": True}),
    ]
