"""mlcost-operator: GitOps cost governance for SageMaker workloads on AWS."""

__version__ = "0.1.0"
