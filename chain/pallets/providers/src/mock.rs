//! A test runtime: System, Balances (the native token), orml Tokens (currencies 1 and 2 with
//! issuance, as at genesis on the runtime), the real ModelRegistry (the models providers serve)
//! and Providers with the spec's constants.

use crate as pallet_providers;
use crate::ModelId;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, ConstU8},
};
use orml_traits::parameter_type_with_key;
use sp_runtime::{BuildStorage, Permill};

pub type AccountId = u64;
pub type Balance = u128;
pub type CurrencyId = u32;

pub const ALICE: AccountId = 1;
pub const BOB: AccountId = 2;
pub const CHARLIE: AccountId = 3;
/// An account with the native token only (no stake currency).
pub const POOR: AccountId = 9;
pub const INFER: CurrencyId = 1;
pub const USDD: CurrencyId = 2;
pub const EXISTENTIAL_DEPOSIT: Balance = 1_000_000;
/// 10^12: one weight unit of stake.
pub const UNIT: Balance = 1_000_000_000_000;
pub const MIN_STAKE: Balance = 100 * UNIT;
pub const UNBONDING_PERIOD: u64 = 10;
pub const ENDOWMENT: Balance = 1_000_000_000 * UNIT;
/// Accounts endowed in both currencies at genesis (Alice, Bob, Charlie and 100..164).
pub const FIRST_EXTRA: AccountId = 100;
pub const EXTRA_ACCOUNTS: AccountId = 70;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Tokens: orml_tokens,
		ModelRegistry: pallet_model_registry,
		Providers: pallet_providers,
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
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
}

parameter_type_with_key! {
	pub ExistentialDeposits: |_currency_id: CurrencyId| -> Balance { EXISTENTIAL_DEPOSIT };
}

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
impl pallet_model_registry::BenchmarkHelper<CurrencyId> for BenchmarkCurrency {
	fn currency_id() -> CurrencyId {
		USDD
	}
}

impl pallet_model_registry::Config for Test {
	type Currency = Tokens;
	type MaxCidLength = ConstU32<128>;
	type MaxNameLength = ConstU32<64>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkCurrency;
}

parameter_types! {
	pub const StakeCurrencyId: CurrencyId = INFER;
	pub const UnbondingPeriod: u64 = UNBONDING_PERIOD;
}

/// The spec's bounds (ConstU32, so records compare in tests).
pub type MaxEndpointLength = ConstU32<256>;
pub type MaxModelsPerProvider = ConstU32<16>;
pub type MaxProvidersPerModel = ConstU32<64>;

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkModels;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for BenchmarkModels {
	fn register_model(index: u32) -> ModelId {
		register_model(ALICE, index)
	}
}

impl pallet_providers::Config for Test {
	type Currency = Tokens;
	type Models = ModelRegistry;
	type StakeCurrencyId = StakeCurrencyId;
	type MinStake = ConstU128<MIN_STAKE>;
	type WeightStakeUnit = ConstU128<UNIT>;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxEndpointLength = MaxEndpointLength;
	type MaxModelsPerProvider = MaxModelsPerProvider;
	type MaxProvidersPerModel = MaxProvidersPerModel;
	type MaxCapacity = ConstU32<1024>;
	type InitialReputation = ConstU8<0>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkModels;
}

/// A valid base32 CIDv1 (raw codec, sha2-256), different for every `index`.
pub fn cid_of(index: u32) -> Vec<u8> {
	genai_primitives::raw_cid_v1_text(0x12, &sp_io::hashing::blake2_256(&index.to_le_bytes()))
}

/// `owner` registers the model `cid_of(index)` in ModelRegistry; returns its id.
pub fn register_model(owner: AccountId, index: u32) -> ModelId {
	let cid = cid_of(index);
	pallet_model_registry::Pallet::<Test>::register_model(
		RuntimeOrigin::signed(owner),
		cid.clone(),
		b"model".to_vec(),
		pallet_model_registry::ModelTask::TextGeneration,
		pallet_model_registry::WeightFormat::Safetensors,
		1_000,
		10,
		INFER,
		Permill::from_percent(5),
	)
	.expect("a valid model registration");
	pallet_model_registry::Pallet::<Test>::model_id_of(&cid)
}

/// Alice, Bob, Charlie and the extra accounts hold the native token and both currencies;
/// `POOR` holds the native token only. Block 1, events recorded.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let funded: Vec<AccountId> = [ALICE, BOB, CHARLIE]
		.into_iter()
		.chain(FIRST_EXTRA..FIRST_EXTRA + EXTRA_ACCOUNTS)
		.collect();
	pallet_balances::GenesisConfig::<Test> {
		balances: funded.iter().chain([POOR].iter()).map(|who| (*who, ENDOWMENT)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	orml_tokens::GenesisConfig::<Test> {
		balances: funded
			.iter()
			.flat_map(|who| [(*who, INFER, ENDOWMENT), (*who, USDD, ENDOWMENT)])
			.collect(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
