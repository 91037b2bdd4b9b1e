"""The municipality's side of BCL: the dataset generator, the uploader, the `konbini bcl` CLI."""
