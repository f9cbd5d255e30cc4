"""The app's entry page renders on the embedded default model (Streamlit's AppTest, no browser)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"


def test_home_page_shows_the_default_model():
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.exception
    assert app.title[0].value == "Crystal Canvas"
    assert "chemical_system" in str(app.table[0].value)


def test_no_page_imports_heavy_libraries_directly():
    for page in [APP, *sorted((APP.parent / "pages").glob("*.py"))]:
        text = page.read_text()
        for module in ("torch", "mattergen", "chgnet"):
            assert f"import {module}" not in text and f"from {module}" not in text, (page, module)


def test_an_unusable_data_folder_is_one_message_at_start(tmp_path, monkeypatch):
    from backend.app import services as app_services

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CRYSTAL_CANVAS_DATA", str(blocker / "data"))
    app_services.reset_services()
    try:
        app = AppTest.from_file(str(APP), default_timeout=120).run()
    finally:
        app_services.reset_services()
    assert not app.exception
    assert "is not usable" in app.error[0].value and "CRYSTAL_CANVAS_DATA" in app.error[0].value


def test_served_configuration_stays_private_and_light():
    """Loopback, no usage statistics, and no gc.collect() after every script run: under 30 polling live views
    that collection alone took 83 % of the server's CPU (benchmarks/README.md, classroom load)."""
    import tomllib

    config = tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"
