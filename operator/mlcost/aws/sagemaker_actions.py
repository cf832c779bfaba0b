"""The changes governance makes to SageMaker resources: tag, untag, stop, delete."""

from __future__ import annotations

from typing import Any

from mlcost.aws.errors import aws_call_or_gone


class SageMakerActions:
    """Mutating SageMaker calls; a resource that vanished raises domain NotFound."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _call(self, operation: str, method: str, **params: Any) -> None:
        with aws_call_or_gone(f"sagemaker:{operation}"):
            getattr(self._client, method)(**params)

    def add_tags(self, arn: str, tags: dict[str, str]) -> None:
        self._call(
            "AddTags", "add_tags", ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        self._call("DeleteTags", "delete_tags", ResourceArn=arn, TagKeys=keys)

    def stop_notebook(self, name: str) -> None:
        self._call("StopNotebookInstance", "stop_notebook_instance", NotebookInstanceName=name)

    def stop_training_job(self, name: str) -> None:
        self._call("StopTrainingJob", "stop_training_job", TrainingJobName=name)

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint only; its EndpointConfig stays so it can be re-created."""
        self._call("DeleteEndpoint", "delete_endpoint", EndpointName=name)
