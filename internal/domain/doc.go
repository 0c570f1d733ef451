// Package domain holds trel's plain data types and the one typed error that
// every layer uses. It has no dependencies on storage, HTTP or crypto so that
// every other package can share it.
package domain
