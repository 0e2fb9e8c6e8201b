package pgcluster

// Dir is the cluster's temporary directory (data, log and socket).
func (c *Cluster) Dir() string { return c.dir }
