// Package query implements MongoDB query semantics over schema-free JSON
// documents: selectors, sort, projection and update operators.
//
// Documents are map[string]any as decoded by encoding/json (values nil,
// bool, float64, string, []any, map[string]any), plus time.Time for dates
// and Go integer types for documents built in code. The embedded bbolt
// store evaluates queries with this package, and the store contract tests
// use it as the reference that the MongoDB backend must agree with.
//
// # Selectors
//
// CompileSelector and ParseSelector accept MongoDB query syntax:
//
//   - implicit equality {"f": v}, including array containment
//     ({"tags": "a"} matches tags ["a", "b"]) and whole-array or
//     whole-subdocument equality;
//   - dotted paths through objects and through arrays of objects
//     ({"items.sku": "x"} matches items [{"sku": "x"}]) and numeric array
//     indexes ({"a.0": 1});
//   - comparison: $eq $ne $gt $gte $lt $lte $in $nin, with MongoDB's type
//     bracketing (numbers compare only with numbers, strings with strings,
//     dates with dates); $ne, $nin and {"f": null} match a missing field;
//   - element: $exists, $type (BSON type numbers or the aliases "double",
//     "string", "object", "array", "bool", "null", "date", "int", "long",
//     "number", ...);
//   - evaluation: $regex with $options (i, m, s, x), $mod;
//   - arrays: $all (values or $elemMatch entries), $elemMatch (query or
//     value form), $size;
//   - logical: $and $or $nor at any level, $not on an operator object;
//     $comment is ignored.
//
// Dates can be written in JSON as Extended JSON {"$date": "2024-01-02T03:04:05Z"}
// (or milliseconds); they become time.Time. A string that looks like a
// date is still a string, and a "/pattern/flags" string is a string, not a
// regular expression.
//
// # Sort, projection and updates
//
// SortSpec orders documents in BSON comparison order (null < numbers <
// strings < objects < arrays < bool < dates), arrays by their smallest
// (ascending) or largest (descending) element, empty arrays before null.
// Projection implements inclusion and exclusion projections with dotted
// paths. ApplyUpdate implements $set $unset $inc $mul $min $max $push
// ($each $position $slice $sort) $addToSet ($each) $pull $pullAll $pop
// $rename $currentDate, and plain field objects as $set.
//
// # Differences from MongoDB
//
//   - Go maps have no key order, so subdocument equality ignores field
//     order ({a: {x: 1, y: 2}} equals {a: {y: 2, x: 1}}; MongoDB compares
//     in stored order), and objects compare with their keys in sorted
//     order. Sort objects with several keys need ParseSortJSON or the array
//     form to keep their order.
//   - $regex uses Go's RE2 syntax instead of PCRE: lookaround and
//     backreferences are rejected, and "$" without the m option matches
//     only at the very end of the string (PCRE also matches before a final
//     newline).
//   - Unsupported, reported as errors: $where, $expr, $text, geospatial and
//     bitwise operators, $jsonSchema; projection operators ($slice,
//     $elemMatch, $meta, "a.$") and literal projection values; positional
//     update paths ("a.$", "a.$[]", "a.$[id]"); $currentDate with
//     {"$type": "timestamp"}; $meta sorts. Collations are not supported:
//     strings compare bytewise.
//   - Numbers: JSON numbers are float64 (BSON double). $inc and $mul keep
//     Go integers as int64 and otherwise produce float64; there is no
//     Decimal128.
//   - ApplyUpdate processes operators in sorted order; since conflicting
//     paths are rejected, the order cannot change the result.
package query
