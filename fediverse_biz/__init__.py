"""fediverse_biz: a federated ActivityPub server for business communities."""
__version__ = "0.1.0"
