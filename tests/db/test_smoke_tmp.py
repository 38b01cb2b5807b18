from sqlalchemy import text

async def test_engine(sessions):
    async with sessions() as s, s.begin():
        assert (await s.execute(text("select count(*) from people"))).scalar() == 0
