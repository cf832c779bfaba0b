"""Names shared by every layer: API group, finalizer, tag and annotation keys."""

GROUP = "mlcost.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

MLCOSTPOLICY_KIND = "MLCostPolicy"
MLCOSTPOLICY_PLURAL = "mlcostpolicies"
ENDPOINTRIGHTSIZING_KIND = "EndpointRightsizing"
ENDPOINTRIGHTSIZING_PLURAL = "endpointrightsizings"
MLCOSTREPORT_KIND = "MLCostReport"
MLCOSTREPORT_PLURAL = "mlcostreports"

FINALIZER = f"{GROUP}/finalizer"

# Every AWS resource the operator creates carries this tag: "<namespace>/<name>" of its owner.
MANAGED_BY_TAG = f"{GROUP}/managed-by"
