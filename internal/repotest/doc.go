// Package repotest holds tests about the repository itself (not about one
// package): every package has a doc comment, and so on.
package repotest
