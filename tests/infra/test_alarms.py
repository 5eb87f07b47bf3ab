"""Alarms: API 5xx, Lambda errors and throttles, p99 duration near the timeout; e-mail optional."""

from __future__ import annotations

from typing import Any

from tests.infra.synth import Synthesized, resources


def alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    found = resources(synth.template_json("Service"), "AWS::CloudWatch::Alarm")
    return {a["Properties"]["MetricName"]: a["Properties"] for a in found.values()}


def test_the_four_alarms_watch_the_right_metrics(default_synth: Synthesized) -> None:
    found = alarms(default_synth)
    assert set(found) == {"5XXError", "Errors", "Throttles", "Duration"}
    assert found["5XXError"]["Namespace"] == "AWS/ApiGateway"
    assert {d["Name"] for d in found["5XXError"]["Dimensions"]} == {"ApiName", "Stage"}
    for name in ("Errors", "Throttles", "Duration"):
        assert found[name]["Namespace"] == "AWS/Lambda"
    for name in ("5XXError", "Errors", "Throttles"):
        assert (found[name]["Statistic"], found[name]["Threshold"]) == ("Sum", 1)


def test_duration_alarm_fires_at_p99_near_the_timeout(
    default_synth: Synthesized, variant_synth: Synthesized
) -> None:
    assert alarms(default_synth)["Duration"]["ExtendedStatistic"] == "p99"
    assert alarms(default_synth)["Duration"]["Threshold"] == 0.8 * 29_000
    assert alarms(variant_synth)["Duration"]["Threshold"] == 0.8 * 20_000


def test_alarm_email_subscribes_and_every_alarm_notifies(default_synth: Synthesized) -> None:
    template = default_synth.template("Service")
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.org"}
    )
    [topic_id] = resources(default_synth.template_json("Service"), "AWS::SNS::Topic")
    for alarm in alarms(default_synth).values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]


def test_without_email_there_is_no_topic_and_no_actions(variant_synth: Synthesized) -> None:
    variant_synth.template("Service").resource_count_is("AWS::SNS::Topic", 0)
    for alarm in alarms(variant_synth).values():
        assert "AlarmActions" not in alarm
