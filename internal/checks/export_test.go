package checks

// SetPendingBudget sets the bytes of texts a pass keeps for the classifier
// until the end of its walk, and returns the function that restores it.
func SetPendingBudget(n int) func() {
	old := pendingBudget
	pendingBudget = n
	return func() { pendingBudget = old }
}
