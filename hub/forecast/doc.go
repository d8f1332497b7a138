// Package forecast is the hub's forecasting service (seed 000, section
// 3.2.2): models are created from MODEL_PARAMS, trained asynchronously on a
// bounded worker pool from input stages (the hub's history, a MongoDB
// aggregate pipeline, or an HTTP request with an expression mapping),
// persisted in a bolt file and asked for forecasts. It serves the seed's
// REST paths under /api/v2/forecast and its NATS subjects
// {domain}.forecast.model.…; the model itself is package prophet.
package forecast
