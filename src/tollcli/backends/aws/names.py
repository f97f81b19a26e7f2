"""Names and tags of the AWS stack, in one place for every component (no component imports another
for a constant, so there are no import cycles between the stack, the anomaly app and QuickSight).

Every resource carries the tag `TAG_KEY=<stack>`; teardown deletes only ledger resources that still
carry it. The ledger's kinds of the Section 1 stack are below; the anomaly app's (`anomaly-*`) and
QuickSight's (`quicksight-*`) are in their modules, beside the code that creates them.
"""

from __future__ import annotations

TAG_KEY = "toll:stack"

KIND_BUCKET = "bucket"
KIND_ROLE = "role"
KIND_STREAM = "delivery_stream"
KIND_DATABASE = "database"
KIND_TABLE = "table"
KIND_WORKGROUP = "workgroup"
# The bucket goes last, emptied just before: the stream must be gone first or it could still deliver.
TEARDOWN_ORDER = (KIND_TABLE, KIND_DATABASE, KIND_WORKGROUP, KIND_STREAM, KIND_ROLE, KIND_BUCKET)

ROLE_PATH = "/toll/"
ROLE_POLICY_NAME = "deliver-to-toll-bucket"
RESULTS_PREFIX = "athena-results/"
ERRORS_PREFIX = "delivery-errors/"
