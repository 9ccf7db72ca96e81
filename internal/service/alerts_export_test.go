package service

// AlertsConfig lets this package's tests shorten the alerts' timings
// (backoff, horizon) to milliseconds.
var AlertsConfig = &alertsConfig

// WriteTimeout lets this package's tests shorten the servers' write
// timeout.
var WriteTimeout = &writeTimeout
