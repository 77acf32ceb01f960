"""Settings are validated per workload, and each workload is handed only what it uses.

The API needs the table, the bucket, the user pool and its client, and the
session secret; the MQTT handler needs the table and the Yoto client id, and
starts without the API's names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import Adapters, get_adapters
from core.errors import ConfigError
from core.settings import WORKLOADS, Settings, env_names_for

API_AWS_NAMES = ("DYNAMODB_TABLE", "S3_AUDIO_BUCKET", "COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "SESSION_SECRET")
API_ONLY_NAMES = ("S3_AUDIO_BUCKET", "COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "SESSION_SECRET", "PUBLIC_URL")


def _message(settings: Settings, workload: str) -> str:
    with pytest.raises(ConfigError) as caught:
        settings.validate_for(workload)  # type: ignore[arg-type]
    return str(caught.value)


def test_the_api_on_aws_names_every_missing_variable() -> None:
    message = _message(Settings(use_aws=True), "api")
    assert message.startswith("the api workload with USE_AWS=true needs ")
    for name in API_AWS_NAMES:
        assert name in message
    assert "YOTO_CLIENT_ID" not in message
    # The old name is the API's check.
    no_secret = Settings(
        use_aws=True, dynamodb_table="t", s3_audio_bucket="b", cognito_user_pool_id="p", cognito_client_id="c"
    )
    with pytest.raises(ConfigError, match=r"^the api workload with USE_AWS=true needs SESSION_SECRET to be set$"):
        no_secret.validate_backend()


def test_the_mqtt_handler_on_aws_needs_the_table_and_the_yoto_client_only() -> None:
    message = _message(Settings(use_aws=True), "mqtt")
    assert message == "the mqtt workload with USE_AWS=true needs DYNAMODB_TABLE, YOTO_CLIENT_ID to be set"
    assert "the mqtt workload" in _message(Settings(use_aws=True, dynamodb_table="t"), "mqtt")
    Settings(use_aws=True, dynamodb_table="t", yoto_client_id="yoto-app").validate_for("mqtt")
    # ... and the API's set alone does not start it.
    api_only = Settings(
        use_aws=True,
        dynamodb_table="t",
        s3_audio_bucket="b",
        cognito_user_pool_id="p",
        cognito_client_id="c",
        session_secret="x" * 40,
    )
    api_only.validate_for("api")
    assert _message(api_only, "mqtt").endswith("needs YOTO_CLIENT_ID to be set")


def test_the_local_side_checks_the_data_dir_for_both_workloads(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path / "d").validate_for("api")
    Settings(data_dir=tmp_path / "d", yoto_client_id="yoto-app").validate_for("mqtt")
    assert _message(Settings(data_dir=tmp_path / "d"), "mqtt") == (
        "the mqtt workload with USE_AWS=false needs YOTO_CLIENT_ID to be set"
    )
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    for workload in WORKLOADS:
        message = _message(Settings(data_dir=blocker / "sub", yoto_client_id="yoto-app"), workload)
        assert message.startswith(f"DATA_DIR={blocker / 'sub'} is not writable")


def test_an_unknown_workload_is_refused() -> None:
    assert "unknown workload 'cron'" in _message(Settings(), "cron")


def test_each_workload_reads_only_its_own_names() -> None:
    mqtt = env_names_for("mqtt")
    assert {"DYNAMODB_TABLE", "YOTO_CLIENT_ID", "MQTT_HOST", "MQTT_PORT", "MQTT_TRANSPORT", "MQTT_PATH"} <= mqtt
    assert mqtt.isdisjoint(API_ONLY_NAMES)
    api = env_names_for("api")
    assert set(API_AWS_NAMES) <= api
    # Every name is one `Settings` reads, and every setting is read by some workload.
    fields = {name.upper() for name in Settings.model_fields}
    assert api | mqtt == fields
    # The broker connection is both workloads': the API sends a command over a
    # short-lived connection when no listener runs (issue 11).
    broker = {"MQTT_HOST", "MQTT_PORT", "MQTT_TRANSPORT", "MQTT_PATH", "MQTT_TLS", "MQTT_CA_FILE", "MQTT_ALPN"}
    assert broker <= mqtt and broker <= api
    assert "YOTO_MQTT_AUTHORIZER" in api and "MQTT_COMMAND_TIMEOUT_S" in api
    # What only the API or only the handler needs stays on its side.
    assert {"MQTT_ENABLED", "MQTT_LISTENER_FUNCTION", "PLAYERS_STREAM"} <= api and mqtt.isdisjoint(
        {"MQTT_ENABLED", "MQTT_LISTENER_FUNCTION", "PLAYERS_STREAM"}
    )
    assert "MQTT_IDLE_S" in mqtt and "MQTT_IDLE_S" not in api


def test_the_mqtt_adapter_set_hands_out_records_only(tmp_path: Path) -> None:
    adapters = Adapters(Settings(data_dir=tmp_path / "d", yoto_client_id="yoto-app"), workload="mqtt")
    assert adapters.records.audio.list(limit=1).items == []
    for what, name in (("storage", "audio storage"), ("tts", "text to speech"), ("identity", "user identity")):
        with pytest.raises(ConfigError, match=f"the mqtt workload is not configured for {name}"):
            getattr(adapters, what)


def test_the_mqtt_adapter_set_runs_on_aws_without_the_apis_names(aws_settings: Settings) -> None:
    handler = aws_settings.model_copy(
        update={
            "s3_audio_bucket": None,
            "cognito_user_pool_id": None,
            "cognito_client_id": None,
            "session_secret": None,
            "yoto_client_id": "yoto-app",
        }
    )
    with pytest.raises(ConfigError, match="the api workload"):
        Adapters(handler)
    records = Adapters(handler, workload="mqtt").records
    records.players.merge_state("p1", {"volume": 5})
    assert records.players.get_state("p1").state["volume"] == 5


def test_a_process_runs_one_workload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("YOTO_CLIENT_ID", "yoto-app")
    assert get_adapters(workload="mqtt").workload == "mqtt"
    assert get_adapters(workload="mqtt") is get_adapters(workload="mqtt")
    with pytest.raises(ConfigError, match="already runs the mqtt workload"):
        get_adapters()
