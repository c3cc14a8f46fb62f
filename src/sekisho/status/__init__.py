"""The public status page: each alias's state and the customer updates of open incidents."""
