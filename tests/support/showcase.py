"""A small trade fair on a live server, built through the domain functions, for the browser tests.

    fair = await furnish(server)   # forge (an organization, olga its owner, carl a contributor, mia a
                                   # manager), a hall, a job, an opportunity, a post; long texts everywhere

The texts are long on purpose: a sector name, a legal name, a bio of two lines, a job title that does not
fit on a phone — what breaks a layout in a real browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fediverse_biz.business import offers, organizations, teams
from fediverse_biz.core import accounts, statuses
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.halls import make_hall
from tests.support.servers import LiveServer

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
BIO = (
    "Hand-forged tools, gates and railings since 1921. Apprenticeships every autumn; visits by appointment, "
    "Monday to Friday. Ask for our catalogue of restoration work on listed buildings."
)


@dataclass(frozen=True)
class Fair:
    forge_id: int
    hall_name: str
    post_id: int
    job_id: int
    password: str = PASSWORD


async def furnish(server: LiveServer) -> Fair:
    pool = await create_pool(server.dsn, min_size=1, max_size=2)
    urls = LocalUrls(server.base_url)
    domain = server.settings.domain
    try:
        for name in ("olga", "mia", "carl"):
            await accounts.create_user(pool, urls, name, f"{name}@example.com", PASSWORD)
        forge = await accounts.create_organization(
            pool, urls, "forge", "olga", display_name="Lyon Forge and Ironworks Cooperative"
        )
        await pool.execute("UPDATE actors SET note = $2 WHERE id = $1", forge["id"], f"<p>{BIO}</p>")
        olga_user = await pool.fetchval("SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id "
                                        "WHERE a.username = 'olga'")  # fmt: skip
        await teams.add_member(pool, forge["id"], olga_user, "mia", "manager")
        await teams.add_member(pool, forge["id"], olga_user, "carl", "contributor")
        forge = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", forge["id"])
        await organizations.update_profile(pool, urls, forge, olga_user, {
            "legal_name": "Forges et Ferronneries Lyonnaises Société Coopérative de Production", "sector": "C",
            "country": "FR", "city": "Villeurbanne",
        })  # fmt: skip
        hall = await make_hall(pool, urls, forge, "metalworks", title="Metalworks: forging, casting and welding")
        post_id = await statuses.create(
            pool, urls, domain, forge, statuses.Draft(text="Our autumn apprenticeship starts on Monday. #forge")
        )
        job_id = await offers.create(pool, urls, domain, forge, {
            "kind": "job", "title": "Senior architectural blacksmith for heritage restoration (m/f/d)",
            "employment_type": "FULL_TIME", "sector": "C", "region": "FR-ARA", "location": "Villeurbanne",
            "salary_min": 42000, "salary_max": 51000, "currency": "EUR", "apply_url": "https://forge.example/apply",
            "valid_through": NEXT_YEAR, "description": "Restoring gates and railings of listed buildings.",
        })  # fmt: skip
        await offers.create(pool, urls, domain, forge, {
            "kind": "opportunity", "direction": "request", "title": "Supplier of recycled structural steel",
            "region": "FR", "budget": 90000, "currency": "EUR",
        })  # fmt: skip
        return Fair(forge_id=forge["id"], hall_name=hall.actor["username"], post_id=post_id, job_id=job_id)
    finally:
        await pool.close()
