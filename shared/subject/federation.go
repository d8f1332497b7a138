package subject

// ServiceFederation is the service token of the subjects that carry changes
// between federated deployments (docs/federation.md).
const ServiceFederation = "federation"

// FederationOut is the prefix of the subjects of the changes a deployment
// exports to one peer: <domain>.federation.<peer>.out; a change of layer l,
// collection c is stored as <domain>.federation.<peer>.out.<l>.<c>.
func FederationOut(domain, peer string) string {
	return join(domain, ServiceFederation, peer, "out")
}

// FederationDeliver is the prefix under which an exporting deployment
// delivers its stream to the peer that sources it:
// <domain>.federation.<peer>.deliver (the peer's leaf connection may
// receive only these and replies to its requests).
func FederationDeliver(domain, peer string) string {
	return join(domain, ServiceFederation, peer, "deliver")
}

// JetStreamAPI is the prefix of the JetStream API of a JetStream domain,
// reachable over a leaf-node link: $JS.<jsDomain>.API.
func JetStreamAPI(jsDomain string) string { return join("$JS", jsDomain, "API") }
