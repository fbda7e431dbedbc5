//! A test runtime: System, Balances (the native token), orml Tokens (currencies 1 and 2 with
//! issuance, as at genesis on the runtime) and ModelRegistry with the spec's constants.

use crate as pallet_model_registry;
use frame_support::{derive_impl, traits::ConstU32};
use orml_traits::parameter_type_with_key;
use sp_runtime::BuildStorage;

pub type AccountId = u64;
pub type Balance = u128;
pub type CurrencyId = u32;

pub const ALICE: AccountId = 1;
pub const BOB: AccountId = 2;
pub const INFER: CurrencyId = 1;
pub const USDD: CurrencyId = 2;
/// A currency nobody holds.
pub const UNKNOWN_CURRENCY: CurrencyId = 3;
pub const EXISTENTIAL_DEPOSIT: Balance = 1_000_000;
pub const ENDOWMENT: Balance = 1_000_000_000_000_000_000;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Tokens: orml_tokens,
		ModelRegistry: pallet_model_registry,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type AccountStore = System;
	type ExistentialDeposit = frame_support::traits::ConstU128<EXISTENTIAL_DEPOSIT>;
}

parameter_type_with_key! {
	pub ExistentialDeposits: |_currency_id: CurrencyId| -> Balance { EXISTENTIAL_DEPOSIT };
}

/// The spec's `MaxCidLength` and `MaxNameLength` (ConstU32, so records compare in tests).
pub type MaxCidLength = ConstU32<128>;
pub type MaxNameLength = ConstU32<64>;

impl orml_tokens::Config for Test {
	type Balance = Balance;
	type Amount = i128;
	type CurrencyId = CurrencyId;
	type WeightInfo = ();
	type ExistentialDeposits = ExistentialDeposits;
	type CurrencyHooks = ();
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type DustRemovalWhitelist = frame_support::traits::Nothing;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkCurrency;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<CurrencyId> for BenchmarkCurrency {
	fn currency_id() -> CurrencyId {
		UNKNOWN_CURRENCY
	}
}

impl pallet_model_registry::Config for Test {
	type Currency = Tokens;
	type MaxCidLength = MaxCidLength;
	type MaxNameLength = MaxNameLength;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkCurrency;
}

/// Alice and Bob hold the native token and both currencies; block 1, events recorded.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, ENDOWMENT), (BOB, ENDOWMENT)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	orml_tokens::GenesisConfig::<Test> {
		balances: vec![
			(ALICE, INFER, ENDOWMENT),
			(ALICE, USDD, ENDOWMENT),
			(BOB, INFER, ENDOWMENT),
			(BOB, USDD, ENDOWMENT),
		],
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
