"""The places that provider regions name, so customer text cannot say them either. Pure data.

Rule 1 forbids naming a provider's region to customers; "problems in US
East" or "our Tokyo provider" say the region as surely as ``us-east-1``.
Each region id of the major clouds maps to the places it is known by (city,
state, cloud display name). The leak check refuses these phrases for every
region that the matrix uses. A region missing here is still refused by its
id; add a row when the matrix gains one (docs/observability.md, "What the
leak check catches").
"""

from __future__ import annotations

__all__ = ["REGION_PLACES", "places_for"]

REGION_PLACES: dict[str, tuple[str, ...]] = {
    # AWS
    "us-east-1": ("US East", "N. Virginia", "Northern Virginia", "Virginia", "Ashburn"),
    "us-east-2": ("US East", "Ohio", "Columbus"),
    "us-west-1": ("US West", "N. California", "Northern California", "California"),
    "us-west-2": ("US West", "Oregon"),
    "ca-central-1": ("Canada Central", "Montreal"),
    "eu-west-1": ("EU West", "Europe West", "Ireland", "Dublin"),
    "eu-west-2": ("EU West", "London"),
    "eu-west-3": ("EU West", "Paris"),
    "eu-central-1": ("EU Central", "Europe Central", "Frankfurt"),
    "eu-north-1": ("EU North", "Stockholm"),
    "eu-south-1": ("EU South", "Milan"),
    "ap-northeast-1": ("Tokyo", "Japan East", "Asia Pacific Tokyo"),
    "ap-northeast-2": ("Seoul", "Korea Central"),
    "ap-northeast-3": ("Osaka", "Japan West"),
    "ap-southeast-1": ("Singapore", "Southeast Asia"),
    "ap-southeast-2": ("Sydney", "Australia East"),
    "ap-south-1": ("Mumbai", "Central India"),
    "ap-east-1": ("Hong Kong", "East Asia"),
    "sa-east-1": ("Sao Paulo", "São Paulo", "Brazil South"),
    "cn-north-1": ("Beijing", "China North"),
    "cn-northwest-1": ("Ningxia", "China Northwest"),
    # Azure
    "eastus": ("US East", "East US", "Virginia"),
    "eastus2": ("US East", "East US", "Virginia"),
    "westus": ("US West", "West US", "California"),
    "westus2": ("US West", "West US", "Washington"),
    "centralus": ("Central US", "Iowa"),
    "japaneast": ("Japan East", "Tokyo", "Saitama"),
    "japanwest": ("Japan West", "Osaka"),
    "westeurope": ("West Europe", "Europe West", "Netherlands", "Amsterdam"),
    "northeurope": ("North Europe", "Europe North", "Ireland", "Dublin"),
    "chinaeast2": ("China East", "Shanghai"),
    "chinanorth3": ("China North", "Hebei"),
    # Google Cloud
    "us-central1": ("US Central", "Iowa", "Council Bluffs"),
    "us-east4": ("US East", "Virginia", "Ashburn"),
    "us-east1": ("US East", "South Carolina"),
    "us-west1": ("US West", "Oregon"),
    "europe-west1": ("Europe West", "Belgium"),
    "europe-west4": ("Europe West", "Netherlands"),
    "asia-northeast1": ("Tokyo", "Asia Northeast", "Japan East"),
    "asia-northeast2": ("Osaka", "Asia Northeast", "Japan West"),
    "asia-southeast1": ("Singapore", "Asia Southeast"),
}


def places_for(region: str) -> tuple[str, ...]:
    """The places ``region`` is known by (empty for a region not in the table)."""
    return REGION_PLACES.get(region.strip().lower(), ())
