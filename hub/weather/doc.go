// Package weather is the hub's weather service (X-FLEX, seed 000, 3.2.1):
// the seed's GET /api/v1/weather and GET /api/v1/weatherforecast on the
// hub's HTTP port with the hub's credentials, answered from a provider
// (weatherbit.io with an API key, as the seed, or a keyless provider with
// Open-Meteo's API), and a periodic refresh of configured sites that writes
// the current weather into the weather layer (one document per site whose
// measurements enter the history, so the forecasting service can take the
// temperature as a regressor) and the hourly forecast beside it, and
// optionally publishes both to a RabbitMQ exchange under the seed's topics.
//
// A provider that fails does not erase what was known: the last good
// answer is kept and served (REST) or left in place (layer) marked stale,
// with the error that made it so.
package weather
