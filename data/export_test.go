package data

// LivePools returns how many tenant connection pools (database/sql pools)
// exist now, opened and not yet closed, whether in the registry's set,
// being opened or being closed, and the most that ever existed at once.
func LivePools(d *Databases) (now, peak int64) {
	return d.tenants.opener.live.Load(), d.tenants.opener.peak.Load()
}

// ConnectingPeak returns the most tenant pools that were ever being
// connected at once.
func ConnectingPeak(d *Databases) int64 { return d.tenants.opener.connectingPeak.Load() }
