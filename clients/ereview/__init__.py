"""The e-review client: a small API an application portal embeds, and `konbini ereview`."""
