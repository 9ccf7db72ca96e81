package delivery

// SetRedeliverPage makes redeliveries read n dead alerts at a time, until
// the returned function is called.
func SetRedeliverPage(n int) (restore func()) {
	old := redeliverPage
	redeliverPage = n
	return func() { redeliverPage = old }
}
