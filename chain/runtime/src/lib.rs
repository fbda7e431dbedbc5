//! # The genai-substrate runtime
//!
//! devnode's runtime as FRAME builds it: the same pallets at the same indices (System 0,
//! Timestamp 2, Balances 5, TransactionPayment 6, Sudo 7, Tokens 10, ModelRegistry 11), the same
//! signed extensions in the same order, the same fee rule and existential deposits, and a
//! `development` genesis preset endowing the dev accounts as devnode's genesis does.
//! Providers (12), Inference (13) and Channels (14) are not written yet (#11, docs/runtime.md).
//!
//! This crate has no build script: the wasm blob is built by `chain/runtime-wasm`, whose build
//! script runs substrate-wasm-builder on this one, so native builds and tests never compile the
//! wasm builder and binaryen (docs/runtime.md).

#![cfg_attr(not(feature = "std"), no_std)]
// construct_runtime! and impl_runtime_apis! expand to large items.
#![recursion_limit = "256"]

extern crate alloc;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmark_helpers;
pub mod genesis;

use alloc::{borrow::Cow, vec::Vec};
use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstU128, ConstU16, ConstU32, ConstU64, ConstU8, Nothing, VariantCountOf},
	weights::{
		constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		Weight, WeightToFee as WeightToFeeT,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{
	generic,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature, Perbill, Permill,
};
#[cfg(feature = "std")]
use sp_version::NativeVersion;
use sp_version::RuntimeVersion;

/// sr25519/ed25519/ecdsa signatures, as devnode accepts.
pub type Signature = MultiSignature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Balance = u128;
pub type BlockNumber = u32;
pub type Nonce = u32;
pub type Hash = sp_core::H256;
pub type CurrencyId = u32;
pub type Address = MultiAddress<AccountId, ()>;
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

/// devnode's signed extensions, in its order (`CheckEra` is named `CheckMortality` in metadata).
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
);
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
>;

/// One unit of the native token (12 decimals, as devnode's `UNIT`).
pub const UNIT: Balance = 1_000_000_000_000;
/// devnode's `Balances::ExistentialDeposit` (0.001 UNIT).
pub const EXISTENTIAL_DEPOSIT: Balance = 1_000_000_000;
/// devnode's Tokens existential deposit (every currency).
pub const TOKENS_EXISTENTIAL_DEPOSIT: Balance = 1_000_000;
/// Fee per byte of an encoded extrinsic (devnode's `LENGTH_FEE`).
pub const LENGTH_FEE: Balance = 1_000_000;
/// The weight fee is `ref_time / WEIGHT_FEE_DIVISOR` (devnode's rule).
pub const WEIGHT_FEE_DIVISOR: u64 = 1_000;

#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: Cow::Borrowed("genai-substrate"),
	impl_name: Cow::Borrowed("genai-substrate"),
	authoring_version: 1,
	spec_version: 100,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

#[cfg(feature = "std")]
pub fn native_version() -> NativeVersion {
	NativeVersion { runtime_version: VERSION, can_author_with: Default::default() }
}

frame_support::construct_runtime!(
	pub enum Runtime {
		System: frame_system = 0,
		Timestamp: pallet_timestamp = 2,
		Balances: pallet_balances = 5,
		TransactionPayment: pallet_transaction_payment = 6,
		Sudo: pallet_sudo = 7,
		Tokens: orml_tokens = 10,
		ModelRegistry: pallet_model_registry = 11,
		Providers: pallet_providers = 12,
		Inference: pallet_inference = 13,
		Channels: pallet_channels = 14,
	}
);

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const Version: RuntimeVersion = VERSION;
	/// Two seconds of compute per block, 5 MiB of proof; every extrinsic costs devnode's
	/// `EXTRINSIC_BASE_WEIGHT` on top of its call.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::builder()
		.base_block(Weight::from_parts(5_000_000, 0))
		.for_class(DispatchClass::all(), |weights| {
			weights.base_extrinsic = Weight::from_parts(100_000_000, 0);
		})
		.for_class(DispatchClass::Normal, |weights| {
			weights.max_total = Some(NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
		})
		.for_class(DispatchClass::Operational, |weights| {
			weights.max_total = Some(MAXIMUM_BLOCK_WEIGHT);
			weights.reserved = Some(MAXIMUM_BLOCK_WEIGHT - NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
		})
		.avg_block_initialization(Perbill::from_percent(10))
		.build_or_panic();
	pub RuntimeBlockLength: BlockLength =
		BlockLength::max_with_normal_ratio(5 * 1024 * 1024, NORMAL_DISPATCH_RATIO);
	pub const FeeMultiplier: Multiplier = Multiplier::from_u32(1);
	pub const MaxCidLength: u32 = 128;
	pub const MaxNameLength: u32 = 64;
}

const MAXIMUM_BLOCK_WEIGHT: Weight =
	Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND.saturating_mul(2), 5 * 1024 * 1024);

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = ConstU32<4096>;
	type DbWeight = RocksDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = ConstU16<42>;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = ();
	type MinimumPeriod = ConstU64<1>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type Balance = Balance;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type ReserveIdentifier = [u8; 8];
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type DoneSlashHandler = ();
}

/// devnode's weight fee: `ref_time / 1000` (no polynomial, no proof-size term).
pub struct WeightToFee;
impl WeightToFeeT for WeightToFee {
	type Balance = Balance;
	fn weight_to_fee(weight: &Weight) -> Balance {
		Balance::from(weight.ref_time() / WEIGHT_FEE_DIVISOR)
	}
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type WeightToFee = WeightToFee;
	type LengthToFee = frame_support::weights::ConstantMultiplier<Balance, ConstU128<LENGTH_FEE>>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightInfo = ();
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

orml_traits::parameter_type_with_key! {
	pub TokensExistentialDeposits: |_currency_id: CurrencyId| -> Balance {
		TOKENS_EXISTENTIAL_DEPOSIT
	};
}

impl orml_tokens::Config for Runtime {
	type Balance = Balance;
	type Amount = i128;
	type CurrencyId = CurrencyId;
	type WeightInfo = ();
	type ExistentialDeposits = TokensExistentialDeposits;
	type CurrencyHooks = ();
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type DustRemovalWhitelist = Nothing;
}

impl pallet_model_registry::Config for Runtime {
	type Currency = Tokens;
	type MaxCidLength = MaxCidLength;
	type MaxNameLength = MaxNameLength;
	type WeightInfo = pallet_model_registry::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkCurrency;
}

#[cfg(feature = "runtime-benchmarks")]
pub use benchmark_helpers::{BenchmarkCurrency, BenchmarkSetup};

/// The staking currency (INFER) and the stable unit (USDD), both created at genesis.
pub const INFER: CurrencyId = 1;
pub const USDD: CurrencyId = 2;

// docs/pallets.md's constants, one to one.
parameter_types! {
	pub const StakeCurrencyId: CurrencyId = INFER;
	pub const MinStake: Balance = 100 * UNIT;
	pub const WeightStakeUnit: Balance = UNIT;
	pub const UnbondingPeriod: BlockNumber = 10;
	pub const MaxEndpointLength: u32 = 256;
	pub const MaxModelsPerProvider: u32 = 16;
	pub const MaxProvidersPerModel: u32 = 64;
	pub const MaxCapacity: u32 = 1024;
	pub const InitialReputation: u8 = 0;

	pub const MaxInlineInput: u32 = 1024;
	pub const MaxSealedInline: u32 = 1024 + 128;
	pub const MaxKeyWrapLength: u32 = 128;
	pub const MaxOutputBytes: u32 = 65_536;
	pub const MaxTokensPerRequest: u32 = 100_000;
	pub const MinDeadline: BlockNumber = 2;
	pub const MaxDeadline: BlockNumber = 600;
	pub const ValidationPeriod: BlockNumber = 20;
	pub const OutputProvidePeriod: BlockNumber = 10;
	pub const MaxTimeoutsPerBlock: u32 = 256;
	pub const BlockBandwidthBytes: u64 = 21_500 * 1024;
	pub const InputBytesPerToken: u32 = 3;
	pub const OutputBytesPerToken: u32 = 640;
	pub const ReputationGain: u32 = 5;
	pub const ReputationLoss: u32 = 10;
	pub const SlashFraction: Permill = Permill::from_parts(100_000);

	pub const MaxTicketLife: BlockNumber = 100;
	pub const MinTicketMargin: BlockNumber = 5;
	pub const CloseDelay: BlockNumber = 150;
	pub const MaxResultsPerSettle: u32 = 1024;
	pub const MaxModelsPerSettlement: u32 = 16;
	pub const DirectReputationGain: u8 = 5;
}

/// frame_system's parent hash: the seed of the protocol's draws on this dev chain.
pub struct SystemParentHash;
impl genai_primitives::ParentHashSource<BlockNumber> for SystemParentHash {
	fn parent_hash() -> Hash {
		System::parent_hash()
	}
	fn block_number() -> BlockNumber {
		System::block_number()
	}
}

/// The parent hash, as devnode uses (docs/pallets.md § Randomness). A block author can grind
/// it: a production runtime uses BABE's `pallet_babe::RandomnessFromOneEpochAgo` (or a
/// parachain's relay-chain randomness) here, with the same tags (docs/runtime.md).
pub type ProtocolRandomness = genai_primitives::ParentHashRandomness<SystemParentHash>;

impl pallet_providers::Config for Runtime {
	type Currency = Tokens;
	type Models = ModelRegistry;
	type StakeCurrencyId = StakeCurrencyId;
	type MinStake = MinStake;
	type WeightStakeUnit = WeightStakeUnit;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxEndpointLength = MaxEndpointLength;
	type MaxModelsPerProvider = MaxModelsPerProvider;
	type MaxProvidersPerModel = MaxProvidersPerModel;
	type MaxCapacity = MaxCapacity;
	type InitialReputation = InitialReputation;
	type WeightInfo = pallet_providers::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkSetup;
}

impl pallet_inference::Config for Runtime {
	type Currency = Tokens;
	type Models = ModelRegistry;
	type Providers = Providers;
	type Randomness = ProtocolRandomness;
	type MaxInlineInput = MaxInlineInput;
	type MaxSealedInline = MaxSealedInline;
	type MaxKeyWrapLength = MaxKeyWrapLength;
	type MaxOutputBytes = MaxOutputBytes;
	type MaxTokensPerRequest = MaxTokensPerRequest;
	type MinDeadline = MinDeadline;
	type MaxDeadline = MaxDeadline;
	type ValidationPeriod = ValidationPeriod;
	type OutputProvidePeriod = OutputProvidePeriod;
	type MaxTimeoutsPerBlock = MaxTimeoutsPerBlock;
	type BlockBandwidthBytes = BlockBandwidthBytes;
	type InputBytesPerToken = InputBytesPerToken;
	type OutputBytesPerToken = OutputBytesPerToken;
	type ReputationGain = ReputationGain;
	type ReputationLoss = ReputationLoss;
	type SlashFraction = SlashFraction;
	type MaxCidLength = MaxCidLength;
	type MaxProvidersPerModel = MaxProvidersPerModel;
	type WeightInfo = pallet_inference::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkSetup;
}

impl pallet_channels::Config for Runtime {
	type Currency = Tokens;
	type Randomness = ProtocolRandomness;
	type Models = ModelRegistry;
	type Providers = Providers;
	type MaxTicketLife = MaxTicketLife;
	type MinTicketMargin = MinTicketMargin;
	type CloseDelay = CloseDelay;
	type MaxResultsPerSettle = MaxResultsPerSettle;
	type MaxModelsPerSettlement = MaxModelsPerSettlement;
	type ValidationPeriod = ValidationPeriod;
	type MaxTimeoutsPerBlock = MaxTimeoutsPerBlock;
	type ReputationGain = DirectReputationGain;
	type SlashFraction = SlashFraction;
	type WeightInfo = pallet_channels::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkSetup;
}
