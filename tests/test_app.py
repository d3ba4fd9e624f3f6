from flask import Flask

from aloft.app import create_app
from aloft.testing import make_settings


def test_create_app_reads_a_mapping_of_variables(tmp_path):
    app = create_app({"ALOFT_DATA_DIR": str(tmp_path), "ALOFT_BASE_URL": "https://up.example.com"})
    assert isinstance(app, Flask)
    settings = app.extensions["aloft.settings"]
    assert settings.base_url == "https://up.example.com"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'aloft.db'}"
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


def test_create_app_reads_the_environment_when_given_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALOFT_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("ALOFT_ORG_NAME", "Env Org")
    app = create_app()
    assert app.extensions["aloft.settings"].org_name == "Env Org"
    assert (tmp_path / "env-data" / "secret_key").exists()


def test_health_answers_ok_without_a_key(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "OK"


def test_ready_when_the_database_answers(client):
    response = client.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_not_ready_when_the_database_is_unreachable(tmp_path):
    app = create_app(make_settings(tmp_path, "postgresql://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["error"].startswith("database: ")


def test_not_ready_when_redis_is_unreachable(tmp_path, aloft_database_url):
    settings = make_settings(tmp_path, aloft_database_url, ALOFT_REDIS_URL="redis://127.0.0.1:1/0")
    response = create_app(settings).test_client().get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json["error"].startswith("redis: ")


def test_ready_with_redis_when_it_answers(tmp_path, aloft_database_url, redis_url):
    settings = make_settings(tmp_path, aloft_database_url, ALOFT_REDIS_URL=redis_url)
    assert create_app(settings).test_client().get("/api/v1/ready").json == {"status": "ready"}


def test_unknown_api_paths_answer_json_not_html(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json == {"error": "Not found"}


def test_wrong_method_answers_json_with_allow(client):
    response = client.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.json == {"error": "Method not allowed"}
    assert "GET" in response.headers["Allow"]
