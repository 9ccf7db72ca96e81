package projections

import "errors"

var errReadOnly = errors.New("write in a read-only transaction")
