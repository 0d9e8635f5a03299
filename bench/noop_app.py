"""The baseline for the webhook benchmark: a Flask view that reads the body and answers."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/whatsapp")
def noop():  # type: ignore[no-untyped-def]
    request.get_data()
    return jsonify({"ok": True})
