"""Alarms that say the service is failing, throttled or about to time out; e-mail optional."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

PERIOD = Duration.minutes(5)
NEAR_TIMEOUT = 0.8  # p99 above 80% of the timeout means some requests are about to fail


class ServiceAlarms(Construct):
    """API 5xx, Lambda errors and throttles, p99 duration near the timeout."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        stage: apigw.Stage,
        timeout: Duration,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        ge = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        quiet = cloudwatch.TreatMissingData.NOT_BREACHING

        def alarm(
            alarm_id: str, metric: cloudwatch.IMetric, threshold: float, description: str
        ) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=ge,
                treat_missing_data=quiet,
                alarm_description=description,
            )

        near_timeout_ms = timeout.to_milliseconds() * NEAR_TIMEOUT
        self.alarms = [
            alarm(
                "Api5xx",
                stage.metric_server_error(period=PERIOD, statistic="Sum"),
                1,
                "The API answered 5xx; the contract says no input may produce one.",
            ),
            alarm(
                "FunctionErrors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                "The inference function raised instead of answering.",
            ),
            alarm(
                "FunctionThrottles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                1,
                "Requests exceeded the reserved concurrency and were rejected.",
            ),
            alarm(
                "DurationNearTimeout",
                function.metric_duration(period=PERIOD, statistic="p99"),
                near_timeout_ms,
                f"p99 duration is above {near_timeout_ms:.0f} ms, near the timeout.",
            ),
        ]
        self.topic: sns.Topic | None = None
        if alarm_email:
            self.topic = self._notify(alarm_email)

    def _notify(self, email: str) -> sns.Topic:
        """Send every alarm (and its recovery) to one e-mail address."""
        topic = sns.Topic(self, "AlarmTopic", display_name="aiornot alarms", enforce_ssl=True)
        subscription = topic.add_subscription(subscriptions.EmailSubscription(email))
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(topic))
            alarm.add_ok_action(actions.SnsAction(topic))
        NagSuppressions.add_resource_suppressions(
            subscription,
            [
                NagPackSuppression(
                    id="Serverless-SNSRedrivePolicy",
                    reason="An e-mail subscription's undelivered notices would sit in a queue "
                    "nobody reads; the alarm state and history stay in CloudWatch.",
                )
            ],
        )
        return topic
