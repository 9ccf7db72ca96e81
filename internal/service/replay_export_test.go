package service

// HistoryPage lets this package's tests make the history command read a
// history of a few entries in several pages.
var HistoryPage = &historyPage
