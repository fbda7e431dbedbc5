//! # ModelRegistry pallet (docs/pallets.md, runtime index 11)
//!
//! AI models registered by their IPFS CID, versioned and priced per 1,000 tokens in a Tokens
//! currency. A model's id is `blake2_256` of the first CID it was registered with; every CID ever
//! registered is remembered (`CidToModel`) so none can be registered twice, and every version is
//! kept (`ModelVersions`). Storage holds the CID text and counts only, never weights.
//!
//! devnode (`devnode/pallets/model_registry.py`) is the reference for behaviour; one difference is
//! forced by the types: an `author_share` above 100 % cannot be SCALE-decoded as a `Permill`, so
//! here such a call is rejected at decoding and `InvalidAuthorShare` (kept at its index) is never
//! returned (docs/runtime.md).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod cid;
pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, EqNoBound, PartialEqNoBound, RuntimeDebugNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::{Permill, RuntimeDebug};

/// `blake2_256` of a model's first CID.
pub type ModelId = H256;

/// What a model does.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	RuntimeDebug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ModelTask {
	TextGeneration,
	Embedding,
	ImageGeneration,
	SpeechToText,
	Other,
}

/// How a model's weights are stored.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	RuntimeDebug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum WeightFormat {
	Safetensors,
	Gguf,
	Onnx,
}

/// Whether a model takes new requests.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	RuntimeDebug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ModelStatus {
	Active,
	Deprecated,
}

/// A registered model.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	RuntimeDebugNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct ModelInfo<T: Config> {
	pub owner: T::AccountId,
	pub cid: CidOf<T>,
	pub name: BoundedVec<u8, T::MaxNameLength>,
	pub task: ModelTask,
	pub format: WeightFormat,
	pub size_bytes: u64,
	pub price_per_1k_tokens: BalanceOf<T>,
	pub currency_id: CurrencyIdOf<T>,
	pub author_share: Permill,
	pub version: u32,
	pub status: ModelStatus,
	pub registered_at: BlockNumberFor<T>,
}

/// One version of a model (1-based; never removed).
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	RuntimeDebugNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct ModelVersion<T: Config> {
	pub cid: CidOf<T>,
	pub size_bytes: u64,
	pub registered_at: BlockNumberFor<T>,
}

// `register_model` takes the spec's eight arguments, and `#[pallet::call]` generates functions
// with the same arguments, where an allow on the call itself does not reach.
#[allow(clippy::too_many_arguments)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use orml_traits::MultiCurrency;
	use sp_runtime::{
		traits::{StaticLookup, Zero},
		ArithmeticError,
	};

	pub type BalanceOf<T> =
		<<T as Config>::Currency as MultiCurrency<<T as frame_system::Config>::AccountId>>::Balance;
	pub type CurrencyIdOf<T> = <<T as Config>::Currency as MultiCurrency<
		<T as frame_system::Config>::AccountId,
	>>::CurrencyId;
	pub type CidOf<T> = BoundedVec<u8, <T as Config>::MaxCidLength>;
	pub type ModelInfoOf<T> = ModelInfo<T>;
	pub type ModelVersionOf<T> = ModelVersion<T>;
	type AccountIdLookupOf<T> = <<T as frame_system::Config>::Lookup as StaticLookup>::Source;

	/// A currency id the benchmarks can give issuance to (`UnknownCurrency` otherwise).
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<CurrencyId> {
		fn currency_id() -> CurrencyId;
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Prices are in one of its currencies; a currency with no issuance is unknown.
		type Currency: MultiCurrency<Self::AccountId>;
		/// Longest accepted CID, in bytes (128).
		#[pallet::constant]
		type MaxCidLength: Get<u32>;
		/// Longest accepted name, in bytes (64).
		#[pallet::constant]
		type MaxNameLength: Get<u32>;
		type WeightInfo: WeightInfo;
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<CurrencyIdOf<Self>>;
	}

	/// Registered models by id.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, ModelInfoOf<T>>;

	/// Every version of every model, 1-based; never removed.
	#[pallet::storage]
	pub type ModelVersions<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, ModelId, Twox64Concat, u32, ModelVersionOf<T>>;

	/// Every CID ever registered, to the model it belongs to.
	#[pallet::storage]
	pub type CidToModel<T: Config> = StorageMap<_, Blake2_128Concat, CidOf<T>, ModelId>;

	/// Number of models registered.
	#[pallet::storage]
	pub type ModelCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered.
		ModelRegistered { model_id: ModelId, owner: T::AccountId, cid: Vec<u8> },
		/// A new version of a model was registered.
		ModelUpdated { model_id: ModelId, version: u32, cid: Vec<u8> },
		/// A model's price changed.
		PriceSet {
			model_id: ModelId,
			price_per_1k_tokens: BalanceOf<T>,
			currency_id: CurrencyIdOf<T>,
		},
		/// A model was deprecated.
		ModelDeprecated { model_id: ModelId },
		/// A model changed owner.
		OwnershipTransferred { model_id: ModelId, from: T::AccountId, to: T::AccountId },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// Not a valid CIDv0 or base32 CIDv1.
		InvalidCid,
		/// The CID is longer than `MaxCidLength`.
		CidTooLong,
		/// This CID is already registered.
		DuplicateCid,
		/// No model with this id.
		UnknownModel,
		/// Only the model's owner may do this.
		NotOwner,
		/// The model is deprecated.
		ModelDeprecated,
		/// The name is empty.
		EmptyName,
		/// The name is longer than `MaxNameLength`.
		NameTooLong,
		/// The author share is above 100%.
		InvalidAuthorShare,
		/// The model's size must be positive.
		ZeroSize,
		/// The currency has no issuance.
		UnknownCurrency,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a model stored on IPFS; its id is blake2_256 of the CID.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model())]
		pub fn register_model(
			origin: OriginFor<T>,
			cid: Vec<u8>,
			name: Vec<u8>,
			task: ModelTask,
			format: WeightFormat,
			size_bytes: u64,
			price_per_1k_tokens: BalanceOf<T>,
			currency_id: CurrencyIdOf<T>,
			author_share: Permill,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let cid = Self::check_new_cid(cid)?;
			ensure!(!name.is_empty(), Error::<T>::EmptyName);
			let name: BoundedVec<u8, T::MaxNameLength> =
				name.try_into().map_err(|_| Error::<T>::NameTooLong)?;
			// Unreachable through a call (a Permill above 100 % does not decode); kept so the
			// rule of the spec holds for any caller.
			ensure!(author_share <= Permill::one(), Error::<T>::InvalidAuthorShare);
			ensure!(size_bytes > 0, Error::<T>::ZeroSize);
			Self::ensure_known_currency(currency_id)?;
			let count = ModelCount::<T>::get().checked_add(1).ok_or(ArithmeticError::Overflow)?;
			let model_id = Self::model_id_of(&cid);
			let now = frame_system::Pallet::<T>::block_number();
			Models::<T>::insert(
				model_id,
				ModelInfo {
					owner: who.clone(),
					cid: cid.clone(),
					name,
					task,
					format,
					size_bytes,
					price_per_1k_tokens,
					currency_id,
					author_share,
					version: 1,
					status: ModelStatus::Active,
					registered_at: now,
				},
			);
			ModelVersions::<T>::insert(
				model_id,
				1,
				ModelVersion { cid: cid.clone(), size_bytes, registered_at: now },
			);
			CidToModel::<T>::insert(&cid, model_id);
			ModelCount::<T>::put(count);
			Self::deposit_event(Event::ModelRegistered { model_id, owner: who, cid: cid.into() });
			Ok(())
		}

		/// Publish a new version (new CID); earlier versions stay readable.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::update_model())]
		pub fn update_model(
			origin: OriginFor<T>,
			model_id: ModelId,
			new_cid: Vec<u8>,
			size_bytes: u64,
		) -> DispatchResult {
			let mut info = Self::active_owned(origin, &model_id)?;
			let cid = Self::check_new_cid(new_cid)?;
			ensure!(size_bytes > 0, Error::<T>::ZeroSize);
			info.version = info.version.checked_add(1).ok_or(ArithmeticError::Overflow)?;
			info.cid = cid.clone();
			info.size_bytes = size_bytes;
			let version = info.version;
			let now = frame_system::Pallet::<T>::block_number();
			Models::<T>::insert(model_id, info);
			ModelVersions::<T>::insert(
				model_id,
				version,
				ModelVersion { cid: cid.clone(), size_bytes, registered_at: now },
			);
			CidToModel::<T>::insert(&cid, model_id);
			Self::deposit_event(Event::ModelUpdated { model_id, version, cid: cid.into() });
			Ok(())
		}

		/// Change the price per 1,000 tokens; requests already placed keep their price.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_price())]
		pub fn set_price(
			origin: OriginFor<T>,
			model_id: ModelId,
			price_per_1k_tokens: BalanceOf<T>,
			currency_id: CurrencyIdOf<T>,
		) -> DispatchResult {
			let mut info = Self::active_owned(origin, &model_id)?;
			Self::ensure_known_currency(currency_id)?;
			info.price_per_1k_tokens = price_per_1k_tokens;
			info.currency_id = currency_id;
			Models::<T>::insert(model_id, info);
			Self::deposit_event(Event::PriceSet { model_id, price_per_1k_tokens, currency_id });
			Ok(())
		}

		/// Stop new requests for this model.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::deprecate_model())]
		pub fn deprecate_model(origin: OriginFor<T>, model_id: ModelId) -> DispatchResult {
			let mut info = Self::active_owned(origin, &model_id)?;
			info.status = ModelStatus::Deprecated;
			Models::<T>::insert(model_id, info);
			Self::deposit_event(Event::ModelDeprecated { model_id });
			Ok(())
		}

		/// Hand the model (and its author share of future payments) to another account.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::transfer_ownership())]
		pub fn transfer_ownership(
			origin: OriginFor<T>,
			model_id: ModelId,
			new_owner: AccountIdLookupOf<T>,
		) -> DispatchResult {
			let mut info = Self::owned(origin, &model_id)?;
			let to = T::Lookup::lookup(new_owner)?;
			let from = core::mem::replace(&mut info.owner, to.clone());
			Models::<T>::insert(model_id, info);
			Self::deposit_event(Event::OwnershipTransferred { model_id, from, to });
			Ok(())
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// The model a CID was registered for, if any.
		pub fn model_of_cid(cid: Vec<u8>) -> Option<ModelId> {
			let cid: CidOf<T> = cid.try_into().ok()?;
			CidToModel::<T>::get(cid)
		}

		/// Number of models registered.
		pub fn model_count() -> u32 {
			ModelCount::<T>::get()
		}
	}

	impl<T: Config> Pallet<T> {
		/// A model's id: blake2_256 of its first CID's bytes (the seed's `hash(ipfs_hash)`).
		pub fn model_id_of(cid: &[u8]) -> ModelId {
			H256(sp_io::hashing::blake2_256(cid))
		}

		/// `CidTooLong` before `InvalidCid`, as the spec orders them.
		pub fn check_cid(cid: Vec<u8>) -> Result<CidOf<T>, Error<T>> {
			let cid: CidOf<T> = cid.try_into().map_err(|_| Error::<T>::CidTooLong)?;
			ensure!(crate::cid::is_valid_cid(&cid), Error::<T>::InvalidCid);
			Ok(cid)
		}

		fn check_new_cid(cid: Vec<u8>) -> Result<CidOf<T>, Error<T>> {
			let cid = Self::check_cid(cid)?;
			ensure!(!CidToModel::<T>::contains_key(&cid), Error::<T>::DuplicateCid);
			Ok(cid)
		}

		fn ensure_known_currency(currency_id: CurrencyIdOf<T>) -> DispatchResult {
			ensure!(
				!T::Currency::total_issuance(currency_id).is_zero(),
				Error::<T>::UnknownCurrency
			);
			Ok(())
		}

		/// The model, if the signed origin owns it.
		fn owned(
			origin: OriginFor<T>,
			model_id: &ModelId,
		) -> Result<ModelInfoOf<T>, DispatchError> {
			let who = ensure_signed(origin)?;
			let info = Models::<T>::get(model_id).ok_or(Error::<T>::UnknownModel)?;
			ensure!(info.owner == who, Error::<T>::NotOwner);
			Ok(info)
		}

		/// The model, if the signed origin owns it and it is not deprecated.
		fn active_owned(
			origin: OriginFor<T>,
			model_id: &ModelId,
		) -> Result<ModelInfoOf<T>, DispatchError> {
			let info = Self::owned(origin, model_id)?;
			ensure!(info.status == ModelStatus::Active, Error::<T>::ModelDeprecated);
			Ok(info)
		}
	}
}

/// What Inference, Providers and Channels see of a model.
impl<T: Config> genai_primitives::ModelLookup<T::AccountId> for Pallet<T> {
	type Balance = BalanceOf<T>;
	type CurrencyId = CurrencyIdOf<T>;

	fn model_terms(
		model_id: &ModelId,
	) -> Option<genai_primitives::ModelTerms<T::AccountId, Self::Balance, Self::CurrencyId>> {
		Models::<T>::get(model_id).map(|info| genai_primitives::ModelTerms {
			author: info.owner,
			version: info.version,
			price_per_1k_tokens: info.price_per_1k_tokens,
			currency_id: info.currency_id,
			author_share: info.author_share,
			active: info.status == ModelStatus::Active,
		})
	}
}
